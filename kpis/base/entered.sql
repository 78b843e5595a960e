-- Accounts as the lender's file first gave them: the balance the cure is measured against.
SELECT
    lender,
    account_key,
    min_by(amount_due, at_utc) AS amount_due,
    min_by(due_date, at_utc) AS due_date,
    max(variant) AS variant,
    max(segment) AS segment
FROM events
WHERE event_type = 'upload'
GROUP BY lender, account_key
