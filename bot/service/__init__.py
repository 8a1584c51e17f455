"""The long-running service: run loop, worker, jobs, schedule, clock, health and metrics."""
