"""Mercurial and Git repositories behind one interface (see base.py)."""
