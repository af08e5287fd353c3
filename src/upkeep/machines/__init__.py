"""Machines (VMs and Arc machines), their enrollment, and the protocol their agents speak."""
