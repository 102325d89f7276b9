"""The report of a run: its charts and its page."""
