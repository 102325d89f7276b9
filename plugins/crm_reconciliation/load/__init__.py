"""The bronze load: reading a legacy export (dialect), loading it (loader), choosing its snapshot."""
