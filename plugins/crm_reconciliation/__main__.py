"""``python -m crm_reconciliation <command>``: the project's commands."""

from crm_reconciliation.cli import main

raise SystemExit(main())
