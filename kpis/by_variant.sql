-- Cure rate, contacts and cost per cured account, per variant.
SELECT
    variant AS variant,
    count(*) AS accounts,
    sum(cured) AS cured,
    CAST(sum(cured) AS DOUBLE) / NULLIF(count(*), 0) AS cure_rate,
    sum(contacts) AS contacts,
    sum(cost) AS cost,
    CAST(sum(cost) AS DOUBLE) / NULLIF(sum(cured), 0) AS cost_per_cured
FROM ladder_accounts
GROUP BY variant
ORDER BY variant
