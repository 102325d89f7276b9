"""Reconcile a legacy Sage CRM (IC'ALPS) export with its HubSpot mirror, one object type at a time."""

__version__ = "0.17.0"
