"""The front door: use cases that check permission, write, audit and notify."""
