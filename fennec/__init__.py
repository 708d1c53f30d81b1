"""Fennec."""
