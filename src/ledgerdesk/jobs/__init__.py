"""Durable jobs: enqueued in the transaction of a change, run at least once (docs/jobs.md)."""

from ledgerdesk.jobs.actions import do_cancel_jobs, do_enqueue_job, do_retry_dead_job
from ledgerdesk.jobs.context import JobContext
from ledgerdesk.jobs.models import Job
from ledgerdesk.jobs.registry import job_handler, periodic_job

__all__ = [
    "Job",
    "JobContext",
    "do_cancel_jobs",
    "do_enqueue_job",
    "do_retry_dead_job",
    "job_handler",
    "periodic_job",
]
