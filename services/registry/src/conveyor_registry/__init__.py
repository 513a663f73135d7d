"""Conveyor's model registry: versions every trained model, decides champions, announces the decisions."""
