//! What the operator's phone shows before they answer: the caller's number
//! as the From user and a display name made of the IVR's category and
//! topic, e.g. `"Абитуриент · приём" <sip:79161234567@...>`, so the
//! operator greets an applicant as an applicant. The screen-pop URL goes in
//! `Call-Info` for the console.

/// Russian labels, since the department's operators read Russian; codes
/// without a label are shown as they are (a new topic in a script still
/// shows up, just untranslated).
fn category_label(category: &str) -> &str {
    match category {
        "applicant" => "Абитуриент",
        "student" => "Студент",
        "listener" => "Слушатель",
        "graduate" => "Выпускник",
        "parent" => "Родитель",
        "other" => "Другое",
        other => other,
    }
}

fn topic_label(topic: &str) -> &str {
    match topic {
        "admission" => "приём",
        "admission_rules" => "правила приёма",
        "education" => "обучение",
        "study_info" => "учёба",
        "general" => "общий вопрос",
        "graduates" => "выпускники",
        "callback" => "обратный звонок",
        "after_hours" => "нерабочее время",
        other => other,
    }
}

/// `Абитуриент · приём`, or just one of the two, or `None` when the IVR
/// learned neither.
pub fn display_name(category: Option<&str>, topic: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = [category.map(category_label), topic.map(topic_label)]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// `Call-Info` value pointing at the inquiry (RFC 3261 §20.9; `purpose=info`
/// is what softphones and the console use for a screen pop).
pub fn call_info(http_base: &str, inquiry_id: &str) -> String {
    format!(
        "<{}/api/v1/inquiries/{inquiry_id}>;purpose=info",
        http_base.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_sees_category_and_topic_in_russian() {
        assert_eq!(
            display_name(Some("applicant"), Some("admission")).as_deref(),
            Some("Абитуриент · приём")
        );
        assert_eq!(
            display_name(Some("student"), None).as_deref(),
            Some("Студент")
        );
        assert_eq!(
            display_name(None, Some("new_topic")).as_deref(),
            Some("new_topic")
        );
        assert_eq!(display_name(None, None), None);
    }

    #[test]
    fn call_info_points_at_the_inquiry() {
        assert_eq!(
            call_info("http://10.0.0.1:8080/", "01ABC"),
            "<http://10.0.0.1:8080/api/v1/inquiries/01ABC>;purpose=info"
        );
    }
}
