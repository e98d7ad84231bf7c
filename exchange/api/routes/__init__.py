"""One router per topic: info, accounts, orders, ledger, solvency, admin."""
