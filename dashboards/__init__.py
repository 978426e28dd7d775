"""Streamlit dashboard: read-only views over :mod:`engine.service` read models."""
