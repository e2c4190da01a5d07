"""`consortium serve`: the regulators' and institutions' web portal over the reports and the chain.

Modules: reports (the one reader of the reports folder's layout), chainview (the chain over web3:
who is who, record verification, the live event feed), auth (Sign-In with Ethereum and the signed
session cookie), pages (HTML), app (the aiohttp application and its routes). The portal is an entry
point like cli: it may import the business layers, nothing imports it.
"""
