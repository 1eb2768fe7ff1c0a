"""Serving under overload: a discrete-event model of shedding policies."""
