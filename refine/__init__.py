"""Refinement of the spec by a driver source (see specs/refinement.md)."""
