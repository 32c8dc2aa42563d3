//! XES (IEEE 1849-2016), written with `quick-xml`.
//!
//! The document follows the standard's XML schema, which declares its elements in no
//! namespace: `log` carries no `xmlns`, so the file validates against the schema as
//! published (`xmllint --schema`), and PM4Py and ProM read it as any XES file.

use std::borrow::Cow;
use std::io::Write;

use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event as XmlEvent};

use super::{CaseLog, ExportError, ExportOptions, status_name, timestamp};
use crate::engine::Event;
use crate::graph::Process;
use crate::model::FieldValue;

/// `xes.version`: the standard's number and year as the `xs:decimal` its schema asks for.
const XES_VERSION: &str = "1849.2016";

/// The standard extensions the log uses: name, prefix, URI.
const EXTENSIONS: [(&str, &str, &str); 4] = [
    (
        "Concept",
        "concept",
        "http://www.xes-standard.org/concept.xesext",
    ),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    (
        "Lifecycle",
        "lifecycle",
        "http://www.xes-standard.org/lifecycle.xesext",
    ),
    (
        "Organizational",
        "org",
        "http://www.xes-standard.org/org.xesext",
    ),
];

/// Writes cases as one XES log, one `trace` per case, streaming: [`XesWriter::new`] writes
/// the log's header, each [`write_case`](XesWriter::write_case) one trace, and
/// [`finish`](XesWriter::finish) closes the log.
///
/// Every trace has `concept:name` (the case id), `sopflow:sop`, `sopflow:version`,
/// `sopflow:status`, `sopflow:opened`, `sopflow:case_sla_breached` and
/// `sopflow:reopened`, `sopflow:closed` when the case is closed or cancelled,
/// `sopflow:parent` (the calling case) when it is a sub-case, and one
/// attribute per case field (its latest value, keyed by the field id). Every event has
/// `concept:name` (the activity), `concept:instance` (the step's activation),
/// `lifecycle:transition` and `time:timestamp`, and when known `org:resource`,
/// `org:role`, `sopflow:step`, `sopflow:item` (a step run once per item), `sopflow:title`,
/// `sopflow:outcome` and
/// `sopflow:sla_breached` (see [the module](super)).
///
/// Writes go straight to `W`: wrap a file in a [`std::io::BufWriter`].
pub struct XesWriter<W: Write> {
    xml: Writer<W>,
    options: ExportOptions,
}

impl<W: Write> XesWriter<W> {
    /// Starts a log on `out`: the XML declaration, the extensions, the global attributes,
    /// the classifiers and the log's own attributes.
    pub fn new(out: W, options: &ExportOptions) -> Result<XesWriter<W>, ExportError> {
        let mut xml = Writer::new_with_indent(out, b' ', 2);
        xml.write_event(XmlEvent::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let mut log = BytesStart::new("log");
        log.push_attribute(("xes.version", XES_VERSION));
        xml.write_event(XmlEvent::Start(log))?;
        for (name, prefix, uri) in EXTENSIONS {
            let mut extension = BytesStart::new("extension");
            extension.push_attribute(("name", name));
            extension.push_attribute(("prefix", prefix));
            extension.push_attribute(("uri", uri));
            xml.write_event(XmlEvent::Empty(extension))?;
        }

        // What every trace and every event has, with the value a reader assumes where it
        // is missing (the standard asks for one; none is ever missing here).
        let mut writer = XesWriter {
            xml,
            options: options.clone(),
        };
        writer.open("global", &[("scope", "trace")])?;
        writer.attribute("string", "concept:name", "__INVALID__")?;
        writer.attribute("string", "sopflow:sop", "__INVALID__")?;
        writer.attribute("int", "sopflow:version", "0")?;
        writer.attribute("string", "sopflow:status", "open")?;
        writer.attribute("date", "sopflow:opened", "1970-01-01T00:00:00.000Z")?;
        writer.close("global")?;
        writer.open("global", &[("scope", "event")])?;
        writer.attribute("string", "concept:name", "__INVALID__")?;
        writer.attribute("string", "concept:instance", "0")?;
        writer.attribute("string", "lifecycle:transition", "complete")?;
        writer.attribute("date", "time:timestamp", "1970-01-01T00:00:00.000Z")?;
        writer.close("global")?;
        // Classifier names are `xs:NCName`s: no spaces.
        for (name, keys) in [
            ("activity", "concept:name"),
            ("activity-lifecycle", "concept:name lifecycle:transition"),
        ] {
            let mut classifier = BytesStart::new("classifier");
            classifier.push_attribute(("name", name));
            classifier.push_attribute(("keys", keys));
            writer.xml.write_event(XmlEvent::Empty(classifier))?;
        }
        let name = writer.options.log_name.clone();
        writer.attribute("string", "concept:name", &name)?;
        writer.attribute("string", "lifecycle:model", "standard")?;
        writer.attribute("string", "sopflow:activity", activity_key(&writer.options))?;
        Ok(writer)
    }

    /// Writes one case as a trace: `events` is its whole history, `process` the SOP
    /// version it ran on.
    ///
    /// Fails with [`ExportError::NotACase`] or [`ExportError::WrongProcess`] before
    /// writing anything, so the log stays well-formed and the caller may go on with the
    /// next case.
    pub fn write_case(&mut self, process: &Process, events: &[Event]) -> Result<(), ExportError> {
        let log = CaseLog::new(process, events)?;
        self.write_log(&log)
    }

    /// Writes one case already read into a [`CaseLog`].
    pub fn write_log(&mut self, log: &CaseLog) -> Result<(), ExportError> {
        self.open("trace", &[])?;
        self.attribute("string", "concept:name", log.case.as_str())?;
        self.attribute("string", "sopflow:sop", log.sop.as_str())?;
        self.attribute("int", "sopflow:version", &log.sop_version.to_string())?;
        self.attribute("string", "sopflow:status", status_name(log.status))?;
        self.attribute("date", "sopflow:opened", &timestamp(log.opened_at))?;
        if let Some(closed) = log.closed_at {
            self.attribute("date", "sopflow:closed", &timestamp(closed))?;
        }
        self.attribute(
            "boolean",
            "sopflow:case_sla_breached",
            bool_text(log.case_sla_breached),
        )?;
        self.attribute("int", "sopflow:reopened", &log.reopened.to_string())?;
        if let Some(parent) = &log.parent {
            self.attribute("string", "sopflow:parent", parent.as_str())?;
        }
        for (field, value) in &log.fields {
            let (kind, text) = field_attribute(value);
            self.attribute(kind, field.as_str(), &text)?;
        }
        for entry in &log.entries {
            self.open("event", &[])?;
            self.attribute(
                "string",
                "concept:name",
                entry.activity(self.options.activity),
            )?;
            self.attribute("string", "concept:instance", &entry.instance.to_string())?;
            self.attribute("string", "lifecycle:transition", entry.lifecycle.name())?;
            self.attribute("date", "time:timestamp", &timestamp(entry.at))?;
            if let Some(resource) = &entry.resource {
                self.attribute("string", "org:resource", resource.as_str())?;
            }
            if let Some(role) = &entry.role {
                self.attribute("string", "org:role", role.as_str())?;
            }
            self.attribute("string", "sopflow:step", entry.step.as_str())?;
            if let Some(item) = &entry.item {
                self.attribute("string", "sopflow:item", item)?;
            }
            if let Some(title) = &entry.title {
                self.attribute("string", "sopflow:title", title)?;
            }
            if let Some(outcome) = entry.outcome {
                self.attribute("string", "sopflow:outcome", outcome.name())?;
            }
            if let Some(breached) = entry.sla_breached {
                self.attribute("boolean", "sopflow:sla_breached", bool_text(breached))?;
            }
            self.close("event")?;
        }
        self.close("trace")
    }

    /// Closes the log and hands back the output, flushed.
    pub fn finish(mut self) -> Result<W, ExportError> {
        self.close("log")?;
        let mut out = self.xml.into_inner();
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(out)
    }

    fn open(&mut self, name: &str, attributes: &[(&str, &str)]) -> Result<(), ExportError> {
        let mut element = BytesStart::new(name);
        for &attribute in attributes {
            element.push_attribute(attribute);
        }
        self.xml.write_event(XmlEvent::Start(element))?;
        Ok(())
    }

    fn close(&mut self, name: &str) -> Result<(), ExportError> {
        self.xml.write_event(XmlEvent::End(BytesEnd::new(name)))?;
        Ok(())
    }

    /// `<kind key="key" value="value"/>`, with any text made safe for an XML attribute.
    fn attribute(&mut self, kind: &str, key: &str, value: &str) -> Result<(), ExportError> {
        let mut element = BytesStart::new(kind);
        element.push_attribute(Attribute {
            key: quick_xml::name::QName("key"),
            value: escape_attribute(key),
        });
        element.push_attribute(Attribute {
            key: quick_xml::name::QName("value"),
            value: escape_attribute(value),
        });
        self.xml.write_event(XmlEvent::Empty(element))?;
        Ok(())
    }
}

/// Which naming the log's activities follow: `step_id` or `title`.
fn activity_key(options: &ExportOptions) -> &'static str {
    match options.activity {
        super::ActivityName::StepId => "step_id",
        super::ActivityName::Title => "title",
    }
}

fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// The XES attribute kind and value text of a field value.
fn field_attribute(value: &FieldValue) -> (&'static str, String) {
    match value {
        FieldValue::Bool(b) => ("boolean", bool_text(*b).to_owned()),
        FieldValue::Integer(i) => ("int", i.to_string()),
        FieldValue::Number(n) if n.is_nan() => ("float", "NaN".to_owned()),
        FieldValue::Number(n) if n.is_infinite() => {
            ("float", if *n > 0.0 { "INF" } else { "-INF" }.to_owned())
        }
        FieldValue::Number(n) => ("float", n.to_string()),
        FieldValue::Text(text) => ("string", text.clone()),
        // A JSON array: unambiguous whatever the options hold, and XES lists are read by
        // few tools.
        FieldValue::List(items) => (
            "string",
            serde_json::to_string(items).unwrap_or_else(|_| String::from("[]")),
        ),
    }
}

/// Text escaped for a double-quoted XML attribute value. Line breaks and tabs become
/// character references, since a parser would turn them into spaces; characters XML 1.0
/// cannot hold at all become `U+FFFD`. Borrowed when nothing needs escaping (ids, times,
/// most titles): most values of a log.
fn escape_attribute(text: &str) -> Cow<'_, str> {
    let plain =
        |c: char| is_xml_char(c) && !matches!(c, '&' | '<' | '>' | '"' | '\n' | '\r' | '\t');
    if text.chars().all(plain) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    Cow::Owned(out)
}

/// Whether XML 1.0 allows `c` in a document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_values_keep_line_breaks_and_lose_what_xml_cannot_hold() {
        assert_eq!(
            escape_attribute("a \"b\" <c> & d\ne\u{1b}"),
            "a &quot;b&quot; &lt;c&gt; &amp; d&#10;e\u{FFFD}"
        );
    }

    #[test]
    fn numbers_are_xs_doubles() {
        assert_eq!(field_attribute(&FieldValue::Number(f64::INFINITY)).1, "INF");
        assert_eq!(field_attribute(&FieldValue::Number(2.5)).1, "2.5");
        assert_eq!(
            field_attribute(&FieldValue::List(vec!["a,b".into(), "c".into()])).1,
            r#"["a,b","c"]"#
        );
    }
}
