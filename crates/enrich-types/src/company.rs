//! An enriched company: what the API found about one company of a batch.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use crate::person::EnrichmentStatus;

/// Everything the API found about one company. Every field is optional, and `null` decodes the
/// same as absent.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnrichedCompanyResponse {
    /// The caller's own id for this company, echoed back from the request.
    #[serde(rename = "externalID")]
    pub external_id: Option<String>,
    /// Company name.
    pub name: Option<String>,
    /// Free-text description of what the company does.
    pub description: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Sub-industry, a finer grain of `industry`.
    #[serde(rename = "subIndustry")]
    pub sub_industry: Option<String>,
    /// Address of the headquarters.
    #[serde(rename = "hqAddress")]
    pub hq_address: Option<String>,
    /// Country of the headquarters.
    #[serde(rename = "hqCountry")]
    pub hq_country: Option<String>,
    /// When the company was founded, as sent (often a year).
    pub founded: Option<String>,
    /// Revenue, as sent (often a range such as `10-50M`).
    pub revenue: Option<String>,
    /// The company's LinkedIn URL.
    #[serde(rename = "linkedInURL")]
    pub linked_in_url: Option<String>,
    /// Number of employees.
    #[serde(
        rename = "employeeCount",
        default,
        deserialize_with = "crate::number::optional_whole"
    )]
    pub employee_count: Option<u64>,
    /// Number of LinkedIn followers.
    #[serde(
        rename = "followersCountLinkedin",
        default,
        deserialize_with = "crate::number::optional_whole"
    )]
    pub followers_count_linkedin: Option<u64>,
    /// Whether the company is publicly traded.
    #[serde(rename = "isPublic")]
    pub is_public: Option<bool>,
    /// Keywords describing the company.
    pub keywords: Option<Vec<String>>,
    /// Phone numbers of the company.
    pub phones: Option<Vec<String>>,
    /// Web sites of the company.
    pub websites: Option<Vec<String>>,
    /// Profiles on other sites.
    #[serde(rename = "digitalPresence")]
    pub digital_presence: Option<Vec<DigitalPresence>>,
    /// Funding rounds the company raised.
    #[serde(rename = "fundingRounds")]
    pub funding_rounds: Option<Vec<FundingRound>>,
    /// The company's initial public offering.
    pub ipo: Option<Ipo>,
    /// The company that owns this one.
    #[serde(rename = "parentOrganization")]
    pub parent_organization: Option<ParentOrganization>,
    /// Listings of the company's shares.
    pub stocks: Option<Vec<Stock>>,
    /// Progress of this company's enrichment.
    pub status: Option<EnrichmentStatus>,
}

/// A profile of the company on another site.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DigitalPresence {
    /// Name of the site, such as `Crunchbase`.
    pub name: Option<String>,
    /// URL of the profile.
    pub url: Option<String>,
}

/// A funding round.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FundingRound {
    /// Name of the round, such as `Series A`.
    pub name: Option<String>,
    /// Amount raised, in `amountCurrency`.
    pub amount: Option<f64>,
    /// Currency of `amount`, such as `USD`.
    #[serde(rename = "amountCurrency")]
    pub amount_currency: Option<String>,
    /// When the round was announced, as sent.
    #[serde(rename = "announcedDate")]
    pub announced_date: Option<String>,
    /// Names of the investors who led the round.
    #[serde(rename = "leadInvestors")]
    pub lead_investors: Option<Vec<String>>,
}

/// An initial public offering.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Ipo {
    /// Date of the offering, as sent.
    pub date: Option<String>,
    /// Price of one share at the offering, in `sharePriceCurrency`.
    #[serde(rename = "sharePrice")]
    pub share_price: Option<f64>,
    /// Currency of `sharePrice`.
    #[serde(rename = "sharePriceCurrency")]
    pub share_price_currency: Option<String>,
}

/// The organization that owns a company.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ParentOrganization {
    /// Name of the parent.
    pub name: Option<String>,
    /// Web site of the parent.
    pub website: Option<String>,
}

/// A listing of a company's shares.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stock {
    /// Stock exchange, such as `NASDAQ`.
    pub exchange: Option<String>,
    /// Ticker symbol on that exchange.
    pub ticker: Option<String>,
}
