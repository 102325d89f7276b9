"""Reviewers' decisions: the queue, the CSV round trip."""
