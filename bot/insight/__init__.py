"""Insight: the outcome of every turn, the dashboard's figures, the review inbox of missed questions and /metrics."""
