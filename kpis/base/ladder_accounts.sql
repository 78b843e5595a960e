-- One row per account that entered a ladder (the gate decided at least one of its rungs).
-- The ladder starts at its first decision; the account is cured when it is paid in full
-- within $cure_days days of that start.
SELECT
    d.lender,
    d.account_key,
    d.start_at,
    date_trunc('week', d.start_at) AS cohort,
    COALESCE(d.variant, e.variant, 'none') AS variant,
    COALESCE(e.segment, 'none') AS segment,
    e.amount_due,
    e.due_date,
    date_diff('day', e.due_date, CAST(d.start_at AS DATE)) AS dpd_at_start,
    c.cure_at,
    CASE WHEN c.cure_at <= d.start_at + INTERVAL '$cure_days' DAY THEN 1 ELSE 0 END AS cured,
    d.contacts,
    d.cost
FROM (
    SELECT
        lender,
        account_key,
        min(at_utc) AS start_at,
        max(variant) AS variant,
        sum(CASE WHEN decision = 'SENT' THEN 1 ELSE 0 END) AS contacts,
        sum(COALESCE(cost, 0)) AS cost
    FROM events
    WHERE event_type = 'decision'
    GROUP BY lender, account_key
) AS d
LEFT JOIN entered AS e ON e.lender = d.lender AND e.account_key = d.account_key
LEFT JOIN cures AS c ON c.lender = d.lender AND c.account_key = d.account_key
