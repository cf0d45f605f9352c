"""Hyper-V gateway over pywinrm: fixed PowerShell templates that print JSON."""
