"""The push: a run (run), its ledger and service, the sender, the shared limiter, the portal preflight."""
