"""Periodic jobs: the runner (advisory locks, job_run) and the schedule."""
