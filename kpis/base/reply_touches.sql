-- Each opt-out or complaint with the last message sent to the account before it.
SELECT lender, account_key, intent, rung, channel, template_id, template_version
FROM (
    SELECT
        r.lender,
        r.account_key,
        r.intent,
        s.rung,
        s.channel,
        s.template_id,
        s.template_version,
        row_number() OVER (
            PARTITION BY r.lender, r.account_key, r.at_utc, r.intent
            ORDER BY s.at_utc DESC, s.rung DESC, s.channel
        ) AS recency
    FROM events AS r
    JOIN sends AS s
        ON s.lender = r.lender AND s.account_key = r.account_key AND s.at_utc <= r.at_utc
    WHERE r.event_type = 'reply' AND r.intent IN ('opt_out', 'complaint')
) AS touched
WHERE recency = 1
