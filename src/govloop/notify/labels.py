"""What staff pages and the citizen's tracker call a message's status, its reason and what it
was about (English msgids, translated where shown)."""

from __future__ import annotations

from govloop.core.i18n import N_

STATUS_LABELS: dict[str, str] = {
    "queued": N_("Queued for sending"),
    "sent": N_("Handed to the gateway"),
    "delivered": N_("Delivered to the recipient"),
    "failed": N_("Could not be delivered"),
    "dead": N_("Sending failed (dead letter)"),
    "suppressed": N_("Not sent"),
}

REASON_LABELS: dict[str, str] = {
    "opted_out": N_("the recipient opted out"),
    "rate_capped": N_("over the per-phone message limit"),
    "rejected": N_("refused by the gateway"),
    "max_attempts": N_("every attempt failed"),
    "undeliverable": N_("the operator could not deliver it"),
    "smsc_rejected": N_("refused by the operator"),
}

CHANNEL_LABELS: dict[str, str] = {
    "sms": N_("Text message"),
    "email": N_("Email"),
}

AUDIENCE_LABELS: dict[str, str] = {
    "citizen": N_("To a citizen"),
    "staff": N_("To staff"),
}

EVENT_LABELS: dict[str, str] = {
    "queued": N_("Queued"),
    "suppressed": N_("Suppressed"),
    "attempt_failed": N_("Attempt failed, will retry"),
    "sent": N_("Handed to the gateway"),
    "dead": N_("Moved to the dead-letter list"),
    "requeued": N_("Queued again by an administrator"),
    "dlr": N_("Delivery report"),
    "delivered": N_("Delivered to the recipient"),
    "failed": N_("Could not be delivered"),
}

# what each template is about
TEMPLATE_LABELS: dict[str, str] = {
    "appointment_booked": N_("Appointment booked"),
    "appointment_reminder": N_("Appointment reminder"),
    "turn_near": N_("Your turn is near"),
    "matter_accepted": N_("Application accepted"),
    "matter_state": N_("Progress of your application"),
    "matter_correction": N_("Request for more documents"),
    "matter_ready": N_("Result can be collected"),
    "waybill_sent": N_("Result sent by post"),
    "parcel_returned": N_("Posted result returned"),
    "order_accepted": N_("Hotline request registered"),
    "order_replied": N_("Hotline request answered"),
    "rating_invitation": N_("Invitation to rate the service"),
    "query_reply": N_("Reply to your progress query"),
    "query_unknown": N_("Reply: matter not found"),
    "opt_out_done": N_("Unsubscribe confirmed"),
    "sms_received": N_("Your text message was registered"),
    "staff_order_dispatched": N_("Work order dispatched"),
    "staff_due_soon": N_("Deadline approaching"),
}
