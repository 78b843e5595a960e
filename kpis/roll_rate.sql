-- Per days-past-due bucket the ladder started in: of the accounts seen long enough to reach
-- the next bucket, how many got there still not paid in full.
SELECT
    b.first_day,
    b.last_day,
    count(*) AS accounts,
    sum(CASE WHEN a.observed_dpd > b.last_day THEN 1 ELSE 0 END) AS observed,
    sum(
        CASE
            WHEN a.observed_dpd > b.last_day
                AND (a.cure_at IS NULL OR date_diff('day', a.due_date, CAST(a.cure_at AS DATE)) > b.last_day)
            THEN 1 ELSE 0
        END
    ) AS rolled,
    CAST(
        sum(
            CASE
                WHEN a.observed_dpd > b.last_day
                    AND (a.cure_at IS NULL OR date_diff('day', a.due_date, CAST(a.cure_at AS DATE)) > b.last_day)
                THEN 1 ELSE 0
            END
        ) AS DOUBLE
    ) / NULLIF(sum(CASE WHEN a.observed_dpd > b.last_day THEN 1 ELSE 0 END), 0) AS roll_rate
FROM (
    SELECT
        l.*,
        date_diff('day', l.due_date, CAST(o.last_at AS DATE)) AS observed_dpd
    FROM ladder_accounts AS l
    JOIN (
        SELECT lender, max(at_utc) AS last_at
        FROM events
        WHERE event_type IN ('decision', 'payment')
        GROUP BY lender
    ) AS o
        ON o.lender = l.lender
) AS a
JOIN (VALUES $dpd_buckets) AS b (first_day, last_day)
    ON a.dpd_at_start BETWEEN b.first_day AND b.last_day
GROUP BY b.first_day, b.last_day
ORDER BY b.first_day
