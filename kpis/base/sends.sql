-- Every message that went out.
SELECT
    lender,
    account_key,
    at_utc,
    rung,
    channel,
    COALESCE(template_id, 'none') AS template_id,
    COALESCE(template_version, 'none') AS template_version,
    cost
FROM events
WHERE event_type = 'decision' AND decision = 'SENT'
