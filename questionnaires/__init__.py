"""Questionnaire templates, campaigns down the management chain, answers, declared VMs and reconciliation."""
