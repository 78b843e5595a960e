-- Cure rate, contacts and cost per cured account, per segment.
SELECT
    segment AS segment,
    count(*) AS accounts,
    sum(cured) AS cured,
    CAST(sum(cured) AS DOUBLE) / NULLIF(count(*), 0) AS cure_rate,
    sum(contacts) AS contacts,
    sum(cost) AS cost,
    CAST(sum(cost) AS DOUBLE) / NULLIF(sum(cured), 0) AS cost_per_cured
FROM ladder_accounts
GROUP BY segment
ORDER BY segment
