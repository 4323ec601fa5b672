"""The worker's jobs: catching the read models up, the sweep, the outbox."""
