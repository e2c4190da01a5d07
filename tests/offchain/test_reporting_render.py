"""HTML, CSV and Merkle helpers on a synthetic report (no chain)."""

import json

from consortium.reporting.render_html import chart_svg, render_html
from consortium.reporting.tables import write_csv
from consortium.reporting.verify import (
    build_tree,
    leaf_hash,
    leaf_value,
    process_proof,
    record_hash,
)

REG = "0x" + "11" * 20
RULES = "0x" + "22" * 32


def _record(i, table="fund_flows", **fields):
    return {
        "id": f"1:{i}:0x{i:064x}:0:r",
        "rule": "r",
        "line": "settlement",
        "table": table,
        "event": "Paid",
        "contract": "X",
        "chain": {
            "chainId": 1,
            "address": REG,
            "blockNumber": i,
            "blockHash": "0x",
            "txHash": f"0x{i:064x}",
            "logIndex": 0,
            "timestamp": 86400 * 5 + i,
        },
        "parties": {
            "payer": {"id": REG, "jurisdiction": "CN", "supervised": True},
            "payee": {"id": "ext:abc", "jurisdiction": "HK", "supervised": False},
        },
        "fields": fields,
        "sealed": {"ref": {"status": "sealed", "envelope": {}}},
    }


def _report(records):
    for r in records:
        r["recordHash"] = "0x" + record_hash(r).hex()
        r["proof"] = []
    return {
        "regulator": REG,
        "regulatorJurisdiction": "CN",
        "date": "1970-01-06",
        "day": 5,
        "chainId": 1,
        "generatedAt": "now",
        "notes": ["a <note>"],
        "rules": {"hash": RULES, "version": 1},
        "anchor": {
            "anchored": False,
            "version": 0,
            "root": "0x" + "00" * 32,
            "recordCount": len(records),
            "contract": None,
            "txHash": None,
        },
        "tables": {
            "fund_flows": {
                "title": "Fund flows",
                "count": len(records),
                "chart": {
                    "type": "flow",
                    "title": "Flows",
                    "params": {"from": "payer", "to": "payee", "value": "amount"},
                },
            },
            "bills": {"title": "Bills", "count": 0, "chart": None},
        },
        "records": records,
    }


def test_render_html__self_contained_escaped_with_chart():
    html = render_html(_report([_record(1, amount=500), _record(2, amount=-30)]))
    assert (
        html.count("<svg") == 1
        and "<script" not in html
        and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert "a &lt;note&gt;" in html and "No records." in html
    assert "sealed" in html


def test_chart_svg__kinds():
    rows = [{"billId": 1, "parentId": 0, "amount": 10}, {"billId": 2, "parentId": 1, "amount": 4}]
    svg = chart_svg(
        {
            "type": "lineage",
            "title": "L",
            "params": {"id": "billId", "parent": "parentId", "value": "amount"},
        },
        rows,
    )
    assert svg.count("<rect") == 2 and svg.count("<path") == 1
    eff = chart_svg(
        {"type": "efficiency", "title": "E", "params": {"label": "c", "gross": "g", "net": "n"}},
        [{"c": "x", "g": 100, "n": 25}],
    )
    assert "75.0%" in eff
    assert (
        chart_svg({"type": "bar", "title": "B", "params": {"label": "e", "value": "count"}}, [])
        == ""
    )


def test_write_csv__one_file_per_table(tmp_path):
    paths = write_csv(_report([_record(1, amount=500)]), tmp_path)
    assert sorted(p.name for p in paths) == ["bills.csv", "fund_flows.csv"]
    lines = (tmp_path / "fund_flows.csv").read_text().splitlines()
    assert lines[0].startswith("time,event,payer,payee,amount,ref,block,tx,recordHash")
    assert ",500,[sealed]," in lines[1]


def test_record_hash__ignores_proof_and_opened_only():
    r = _record(1, amount=5)
    h = record_hash(r)
    assert record_hash(dict(r, proof=["0x"], opened={"x": 1}, recordHash="0x")) == h
    assert record_hash(json.loads(json.dumps(r).replace('"amount": 5', '"amount": 6'))) != h


def test_merkle__proofs_reach_root_and_bind_day():
    hashes = [bytes([i]) * 32 for i in range(1, 6)]
    leaves = [leaf_value(REG, 5, RULES, h) for h in hashes]
    tree = build_tree(leaves)
    for leaf, h in zip(leaves, hashes):
        assert process_proof(leaf_hash(REG, 5, RULES, h), tree.get_proofs(leaf)) == tree.root
        assert process_proof(leaf_hash(REG, 6, RULES, h), tree.get_proofs(leaf)) != tree.root
    assert build_tree([]) is None


def test_chart_svg__bar__long_labels_with_one_prefix_stay_apart_numeric_in_order():
    rows = [
        {"event": "ContributionBatchReceived", "total": 100},
        {"event": "ContributionBatchPosted", "total": 40},
    ]
    svg = chart_svg(
        {"type": "bar", "title": "B", "params": {"label": "event", "value": "total"}}, rows
    )
    assert "ContributionBatchReceived" in svg and "ContributionBatchPosted" in svg
    assert ">100<" in svg and ">40<" in svg  # two bars, not one merged 140
    causes = [{"cause": c} for c in (4, 1, 2, 1, 10)]
    svg = chart_svg(
        {"type": "bar", "title": "C", "params": {"label": "cause", "value": "count"}}, causes
    )
    labels = [svg.index(f">{c}</text>") for c in ("1", "2", "4", "10")]
    assert labels == sorted(labels)


def test_chart_svg__flow__pairs_summed_by_full_address():
    a, b, c = "0x" + "ab" * 20, "0x" + "ab" * 19 + "cd", "0x" + "11" * 20
    rows = [{"payer": a, "payee": c, "amount": 5}, {"payer": b, "payee": c, "amount": 7}]
    svg = chart_svg(
        {
            "type": "flow",
            "title": "F",
            "params": {"from": "payer", "to": "payee", "value": "amount"},
        },
        rows,
    )
    assert svg.count("<rect") == 2 and ">7<" in svg and ">5<" in svg


def test_chart_svg__lineage__roots_are_bills_children_splits():
    rows = [{"nodeId": 1, "amount": 10}, {"nodeId": 4, "parentId": 1, "amount": 4}]
    svg = chart_svg(
        {
            "type": "lineage",
            "title": "L",
            "params": {"id": "nodeId", "parent": "parentId", "value": "amount"},
        },
        rows,
    )
    assert ">bill 1<" in svg and ">split 4<" in svg and svg.count("<path") == 1


def test_chart_svg__bar__rows_without_the_value_draw_no_bar():
    rows = [{"party": "0x" + "ab" * 20, "trades": 20}, {"party": "ext:1234", "fees": 3}]
    svg = chart_svg(
        {"type": "bar", "title": "T", "params": {"label": "party", "value": "trades"}}, rows
    )
    assert svg.count("<rect") == 1 and "ext:1234" not in svg
    assert "0xababababababababababababa…ab" in svg  # 30 characters: fits the label column
