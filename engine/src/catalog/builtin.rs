//! The built-in catalogue: the bundled CSV file and the built-in rules of each profile (SPEC 1.1).

use super::csv::skus_from_csv;
use super::model::Catalog;
use super::spec::{CatalogSpec, RulesProfile, SkuSpec};

/// The built-in catalogue file (Microsoft's public reference layout, 16 products).
pub const BUILTIN_CSV: &str = include_str!("../../data/skus-subset.csv");

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

impl CatalogSpec {
    /// The built-in catalogue with the built-in rules of `profile`.
    pub fn builtin(profile: RulesProfile) -> CatalogSpec {
        let skus = skus_from_csv(BUILTIN_CSV).expect("built-in catalogue parses");
        CatalogSpec::with_rules(skus, profile)
    }

    /// SKUs with the built-in rules of `profile` (SPEC 1.1).
    pub fn with_rules(skus: Vec<SkuSpec>, profile: RulesProfile) -> CatalogSpec {
        let sharepoint = [
            "SHAREPOINTSTANDARD",
            "SHAREPOINTENTERPRISE",
            "SHAREPOINTDESKLESS",
            "SHAREPOINTLITE",
            "SHAREPOINTSTANDARD_EDU",
            "SHAREPOINTENTERPRISE_EDU",
            "SHAREPOINTENTERPRISE_MIDMARKET",
            "SHAREPOINT_S_DEVELOPER",
            "ONEDRIVEENTERPRISE",
            "SHAREPOINTSTANDARD_YAMMERSHADOW",
        ];
        let mut exchange = owned(&[
            "EXCHANGE_S_STANDARD_MIDMARKET",
            "EXCHANGE_S_ESSENTIALS",
            "EXCHANGE_S_DESKLESS",
            "EXCHANGE_S_ARCHIVE",
            "EXCHANGE_B_STANDARD",
            "EXCHANGE_S_STANDARD",
        ]);
        if profile == RulesProfile::Legacy {
            exchange.push("EXCHANGE_S_ENTERPRISE".into());
        }
        let skype = ["MCOIMP", "MCOSTANDARD", "MCOSTANDARD_MIDMARKET", "MCOLITE"];
        let calling = ["MCOPSTN1", "MCOPSTN2", "MCOPSTN5"];
        let yammer = ["YAMMER_ENTERPRISE", "YAMMER_EDU", "YAMMER_MIDSIZE"];
        let intune = ["INTUNE_A", "INTUNE_A_VL", "INTUNE_B"];
        let mailbox = [
            "EXCHANGE_S_STANDARD",
            "EXCHANGE_S_ENTERPRISE",
            "EXCHANGE_S_DESKLESS",
            "EXCHANGE_S_ESSENTIALS",
            "EXCHANGE_B_STANDARD",
            "EXCHANGE_S_STANDARD_MIDMARKET",
            "EXCHANGE_L_STANDARD",
        ];
        let mut families = Vec::new();
        let mut fam = |plans: &[&str], family: &str| {
            for p in plans {
                families.push((p.to_string(), family.to_string()));
            }
        };
        fam(&mailbox, "exchange");
        fam(&sharepoint, "sharepoint");
        fam(&skype, "skype");
        fam(&calling, "calling");
        fam(&["TEAMS1"], "teams");
        fam(
            &["OFFICESUBSCRIPTION", "OFFICEMOBILE_SUBSCRIPTION"],
            "office_apps",
        );
        // Azure Rights Management in its tiers (E1: basic, E3: enterprise, EMS: premium).
        fam(
            &[
                "RMS_S_BASIC",
                "RMS_S_ENTERPRISE",
                "RMS_S_PREMIUM",
                "RMS_S_PREMIUM2",
            ],
            "rms",
        );
        fam(&yammer, "yammer");
        fam(&intune, "intune");
        CatalogSpec {
            profile,
            skus,
            exclusive_sets: vec![
                ("SharePoint".into(), owned(&sharepoint)),
                ("Exchange".into(), exchange),
                ("Skype".into(), owned(&skype)),
                ("calling".into(), owned(&calling)),
                ("Yammer".into(), owned(&yammer)),
                ("Intune".into(), owned(&intune)),
            ],
            dependencies: vec![
                (
                    "WORKPLACE_ANALYTICS".into(),
                    owned(&["EXCHANGE_S_STANDARD", "EXCHANGE_S_ENTERPRISE"]),
                ),
                ("MCOMEETADV".into(), owned(&["MCOSTANDARD", "TEAMS1"])),
            ],
            prohibited: Vec::new(),
            mailbox_plans: owned(&mailbox),
            families,
        }
    }
}

impl Catalog {
    pub fn builtin(profile: RulesProfile) -> Catalog {
        Catalog::build(CatalogSpec::builtin(profile)).expect("built-in catalogue builds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_has_the_documented_products() {
        let c = Catalog::builtin(RulesProfile::Current);
        assert_eq!(c.skus.len(), 16);
        assert_eq!(c.plans.len(), 111);
        assert_eq!(
            c.sku(c.sku_by_name("ENTERPRISEPACK").unwrap()).guid,
            "6fd2c87f-b296-42f0-b197-1e91e994b900"
        );
        assert_ne!(
            Catalog::builtin(RulesProfile::Legacy).fingerprint(),
            c.fingerprint()
        );
    }
}
