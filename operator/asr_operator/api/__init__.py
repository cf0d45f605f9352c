"""Typed spec and status of the custom resources; the CRDs are generated from here."""
