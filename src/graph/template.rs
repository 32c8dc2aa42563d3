//! `{{ field }}` templates in titles and instructions: checked at compile time, rendered
//! by the engine with the case's field values.

use std::fmt;

use crate::model::FieldId;

/// A text with `{{ field }}` placeholders, split into literal text and field references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<TemplatePart>,
}

/// One piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Text shown as is.
    Literal(String),
    /// The value of a field.
    Field(FieldId),
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{{` without `}}`.
    #[error("`{{{{` is never closed with `}}}}`")]
    Unclosed {
        /// Byte offset of the `{{` in the text.
        at: usize,
    },
    /// `{{ }}` around something that is not a field name.
    #[error("`{{{{ {inner} }}}}` is not a field reference: write `{{{{ field_name }}}}`")]
    NotAField {
        /// What was between the braces.
        inner: String,
    },
}

impl Template {
    /// Splits `text` into literals and field references.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut consumed = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(TemplatePart::Literal(rest[..open].to_owned()));
            }
            let after_open = &rest[open + 2..];
            let close = after_open.find("}}").ok_or(TemplateError::Unclosed {
                at: consumed + open,
            })?;
            let inner = after_open[..close].trim();
            let field = FieldId::new(inner).map_err(|_| TemplateError::NotAField {
                inner: inner.to_owned(),
            })?;
            parts.push(TemplatePart::Field(field));
            let advance = open + 2 + close + 2;
            consumed += advance;
            rest = &rest[advance..];
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Literal(rest.to_owned()));
        }
        Ok(Template {
            source: text.to_owned(),
            parts,
        })
    }

    /// The text as written, placeholders included.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The literal and field pieces in order.
    pub fn parts(&self) -> &[TemplatePart] {
        &self.parts
    }

    /// The fields the template reads.
    pub fn fields(&self) -> impl Iterator<Item = &FieldId> {
        self.parts.iter().filter_map(|part| match part {
            TemplatePart::Field(field) => Some(field),
            TemplatePart::Literal(_) => None,
        })
    }

    /// Fills in the placeholders; `value` gives a field's text, and a field without a value
    /// keeps its placeholder so a reader sees what is still missing.
    pub fn render<'a>(&self, mut value: impl FnMut(&FieldId) -> Option<String> + 'a) -> String {
        let mut out = String::with_capacity(self.source.len());
        for part in &self.parts {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Field(field) => match value(field) {
                    Some(text) => out.push_str(&text),
                    None => {
                        out.push_str("{{ ");
                        out.push_str(field.as_str());
                        out.push_str(" }}");
                    }
                },
            }
        }
        out
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_renders() {
        let template = Template::parse("Solution or Answer to {{ issue }}").unwrap();
        assert_eq!(
            template.fields().map(FieldId::as_str).collect::<Vec<_>>(),
            ["issue"]
        );
        let rendered = template.render(|_| Some("my printer jams".to_owned()));
        assert_eq!(rendered, "Solution or Answer to my printer jams");
        assert_eq!(
            template.render(|_| None),
            "Solution or Answer to {{ issue }}"
        );
    }

    #[test]
    fn reports_unclosed_and_non_field_placeholders() {
        assert_eq!(
            Template::parse("a {{ b").unwrap_err(),
            TemplateError::Unclosed { at: 2 }
        );
        assert!(matches!(
            Template::parse("{{ form.Issue }}").unwrap_err(),
            TemplateError::NotAField { .. }
        ));
    }

    #[test]
    fn text_without_placeholders_is_one_literal() {
        let template = Template::parse("Close the ticket").unwrap();
        assert_eq!(template.parts().len(), 1);
        assert_eq!(template.fields().count(), 0);
    }
}
