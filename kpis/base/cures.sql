-- When each account was paid in full: the first payment that brings the total paid to the
-- balance it entered with.
SELECT lender, account_key, min(at_utc) AS cure_at
FROM (
    SELECT
        p.lender,
        p.account_key,
        p.at_utc,
        e.amount_due,
        sum(p.amount) OVER (
            PARTITION BY p.lender, p.account_key
            ORDER BY p.at_utc
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS paid_so_far
    FROM events AS p
    JOIN entered AS e ON e.lender = p.lender AND e.account_key = p.account_key
    WHERE p.event_type = 'payment'
) AS running
WHERE paid_so_far >= amount_due
GROUP BY lender, account_key
