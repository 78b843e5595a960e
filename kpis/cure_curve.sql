-- Cure curve per variant: accounts paid in full by each day since their ladder started
-- (day 0 = the day of the first rung), as a share of the variant's accounts.
SELECT
    c.variant,
    c.day,
    sum(c.cured) OVER (PARTITION BY c.variant ORDER BY c.day) AS cured,
    CAST(sum(c.cured) OVER (PARTITION BY c.variant ORDER BY c.day) AS DOUBLE) / v.accounts
        AS cure_rate
FROM (
    SELECT
        variant,
        date_diff('day', CAST(start_at AS DATE), CAST(cure_at AS DATE)) AS day,
        count(*) AS cured
    FROM ladder_accounts
    WHERE cured = 1
    GROUP BY variant, date_diff('day', CAST(start_at AS DATE), CAST(cure_at AS DATE))
) AS c
JOIN (SELECT variant, count(*) AS accounts FROM ladder_accounts GROUP BY variant) AS v
    ON v.variant = c.variant
ORDER BY c.variant, c.day
