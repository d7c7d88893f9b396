"""Campaigns: launch N research agents with directions and budgets, supervise them, resume, report status."""
