"""``python -m crm_reconciliation_dev <command>``: the development commands."""

from crm_reconciliation_dev.cli import main

raise SystemExit(main())
