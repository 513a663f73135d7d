"""Conveyor's web console."""
