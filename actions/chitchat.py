"""Chitchat is answered by responses in domain.yml; no custom actions are needed here."""
