-- Timers are leased by the scheduler worker that fires them; an expired lease (a crashed
-- worker) makes the timer claimable again: late, never lost. Firing deletes the row.
ALTER TABLE timers ADD COLUMN lease_until_us BIGINT;
ALTER TABLE timers ADD COLUMN leased_by TEXT;
