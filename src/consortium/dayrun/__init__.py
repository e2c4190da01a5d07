"""The business day as a consortium of processes (`consortium demo --processes`): see day.py."""

from __future__ import annotations

from consortium.dayrun.day import DayOptions, DayOutcome, print_summary, run_processes_day

__all__ = ["DayOptions", "DayOutcome", "print_summary", "run_processes_day"]
