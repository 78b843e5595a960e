-- Accounts that entered a ladder, how many were cured, what reaching them cost.
SELECT
    count(*) AS accounts,
    sum(cured) AS cured,
    CAST(sum(cured) AS DOUBLE) / NULLIF(count(*), 0) AS cure_rate,
    sum(contacts) AS contacts,
    sum(cost) AS cost,
    CAST(sum(contacts) AS DOUBLE) / NULLIF(sum(cured), 0) AS contacts_per_cured,
    CAST(sum(cost) AS DOUBLE) / NULLIF(sum(cured), 0) AS cost_per_cured
FROM ladder_accounts
