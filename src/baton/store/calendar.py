"""Embedded calendar storage: the protocol the calendar agents use (implementations beside it)."""
