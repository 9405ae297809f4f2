//! An enriched company: what the API found about one company of a batch.

use serde::{Deserialize, Serialize};

use crate::person::EnrichmentStatus;

/// Everything the API found about one company. Every field is optional, and `null` decodes the
/// same as absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct EnrichedCompanyResponse {
    /// The caller's own id for this company, echoed back from the request.
    #[serde(rename = "externalID", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Company name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free-text description of what the company does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Industry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    /// Sub-industry, a finer grain of `industry`.
    #[serde(rename = "subIndustry", skip_serializing_if = "Option::is_none")]
    pub sub_industry: Option<String>,
    /// Address of the headquarters.
    #[serde(rename = "hqAddress", skip_serializing_if = "Option::is_none")]
    pub hq_address: Option<String>,
    /// Country of the headquarters.
    #[serde(rename = "hqCountry", skip_serializing_if = "Option::is_none")]
    pub hq_country: Option<String>,
    /// When the company was founded, as sent (often a year).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub founded: Option<String>,
    /// Revenue, as sent (often a range such as `10-50M`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue: Option<String>,
    /// The company's LinkedIn URL.
    #[serde(rename = "linkedInURL", skip_serializing_if = "Option::is_none")]
    pub linked_in_url: Option<String>,
    /// Number of employees.
    #[serde(
        rename = "employeeCount",
        default,
        deserialize_with = "crate::number::optional_whole",
        skip_serializing_if = "Option::is_none"
    )]
    pub employee_count: Option<u64>,
    /// Number of LinkedIn followers.
    #[serde(
        rename = "followersCountLinkedin",
        default,
        deserialize_with = "crate::number::optional_whole",
        skip_serializing_if = "Option::is_none"
    )]
    pub followers_count_linkedin: Option<u64>,
    /// Whether the company is publicly traded.
    #[serde(rename = "isPublic", skip_serializing_if = "Option::is_none")]
    pub is_public: Option<bool>,
    /// Keywords describing the company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
    /// Phone numbers of the company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phones: Option<Vec<String>>,
    /// Web sites of the company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub websites: Option<Vec<String>>,
    /// Profiles on other sites.
    #[serde(rename = "digitalPresence", skip_serializing_if = "Option::is_none")]
    pub digital_presence: Option<Vec<DigitalPresence>>,
    /// Funding rounds the company raised.
    #[serde(rename = "fundingRounds", skip_serializing_if = "Option::is_none")]
    pub funding_rounds: Option<Vec<FundingRound>>,
    /// The company's initial public offering.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipo: Option<Ipo>,
    /// The company that owns this one.
    #[serde(rename = "parentOrganization", skip_serializing_if = "Option::is_none")]
    pub parent_organization: Option<ParentOrganization>,
    /// Listings of the company's shares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stocks: Option<Vec<Stock>>,
    /// Progress of this company's enrichment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<EnrichmentStatus>,
}

/// A profile of the company on another site.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct DigitalPresence {
    /// Name of the site, such as `Crunchbase`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// URL of the profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A funding round.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct FundingRound {
    /// Name of the round, such as `Series A`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Amount raised, in `amountCurrency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    /// Currency of `amount`, such as `USD`.
    #[serde(rename = "amountCurrency", skip_serializing_if = "Option::is_none")]
    pub amount_currency: Option<String>,
    /// When the round was announced, as sent.
    #[serde(rename = "announcedDate", skip_serializing_if = "Option::is_none")]
    pub announced_date: Option<String>,
    /// Names of the investors who led the round.
    #[serde(rename = "leadInvestors", skip_serializing_if = "Option::is_none")]
    pub lead_investors: Option<Vec<String>>,
}

/// An initial public offering.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Ipo {
    /// Date of the offering, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Price of one share at the offering, in `sharePriceCurrency`.
    #[serde(rename = "sharePrice", skip_serializing_if = "Option::is_none")]
    pub share_price: Option<f64>,
    /// Currency of `sharePrice`.
    #[serde(rename = "sharePriceCurrency", skip_serializing_if = "Option::is_none")]
    pub share_price_currency: Option<String>,
}

/// The organization that owns a company.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ParentOrganization {
    /// Name of the parent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Web site of the parent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

/// A listing of a company's shares.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Stock {
    /// Stock exchange, such as `NASDAQ`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
    /// Ticker symbol on that exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticker: Option<String>,
}
