-- reads: staging.push_log / creates: nothing
-- The target a push run sent to (a run pushes to one), for the revert of that run.
select distinct ledger.target
from staging.push_log as ledger
where ledger.object_type = %(object_type)s and ledger.run_id = %(run_id)s and ledger.outcome = 'sent'
