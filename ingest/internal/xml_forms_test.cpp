#include "ingest/internal/xml_forms.h"

#include <gtest/gtest.h>

namespace fgraph::ingest::internal {
namespace {

TEST(XmlFormsTest, OwnershipFormBecomesLabelValueLinesWithParties) {
  std::string xml =
      "\n<?xml version=\"1.0\"?>\n<ownershipDocument><documentType>4</documentType>"
      "<periodOfReport>2025-01-10</periodOfReport>"
      "<issuer><issuerCik>1750</issuerCik><issuerName>AAR CORP</issuerName></issuer>"
      "<reportingOwner><reportingOwnerId><rptOwnerCik>0001806647</rptOwnerCik>"
      "<rptOwnerName>Garascia Jessica A.</rptOwnerName></reportingOwnerId></reportingOwner>"
      "<nonDerivativeTable><nonDerivativeTransaction><securityTitle><value>Common Stock</value></securityTitle>"
      "<transactionPricePerShare><value>66.903</value><footnoteId id=\"F1\"/></transactionPricePerShare>"
      "</nonDerivativeTransaction></nonDerivativeTable>"
      "<footnotes><footnote id=\"F1\">Weighted &amp; average.</footnote></footnotes></ownershipDocument>";
  auto c = xml_to_content(xml, "f4.xml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->format, Format::kXml);
  EXPECT_EQ(c->form_type, "4");
  EXPECT_EQ(c->cik, "0000001750");
  EXPECT_EQ(c->company, "AAR CORP");
  ASSERT_EQ(c->parties.size(), 2u);
  EXPECT_EQ(c->parties[1].role, "reporting-owner");
  EXPECT_EQ(c->parties[1].cik, "0001806647");
  EXPECT_NE(c->text.find("securityTitle: Common Stock\ntransactionPricePerShare: 66.903 [F1]"), std::string::npos);
  EXPECT_NE(c->text.find("footnote F1: Weighted & average."), std::string::npos);
}

TEST(XmlFormsTest, AttributeBorneValuesAreKept) {
  auto c = xml_to_content("<edgarSubmission><invstOrSec><name>Town of X</name><identifiers>"
                          "<isin value=\"US49151FGH73\"/></identifiers></invstOrSec></edgarSubmission>",
                          "nport.xml");
  ASSERT_TRUE(c.has_value());
  EXPECT_NE(c->text.find("isin: US49151FGH73"), std::string::npos);
}

TEST(XmlFormsTest, StrayAmpersandAndLessThanAreRepaired) {
  EXPECT_EQ(escape_stray_markup("<P>R&D &amp; < TV > &#38; <\xEC\xA3\xBC></P>"),
            "<P>R&amp;D &amp; &lt; TV > &#38; &lt;\xEC\xA3\xBC></P>");
  auto c = xml_to_content("<DOCUMENT><DOCUMENT-NAME>Report</DOCUMENT-NAME><BODY><P>R&D & more</P>"
                          "<TABLE><TR><TD>a</TD><TE>b</TE></TR></TABLE></BODY></DOCUMENT>",
                          "dart.xml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->text, "Report\n\nR&D & more\n\na | b");
  EXPECT_EQ(c->form_type, "Report");
}

TEST(XmlFormsTest, XbrlInstanceIsOneLinePerFactPlainFirst) {
  std::string xml =
      "<xbrl xmlns='http://www.xbrl.org/2003/instance' xmlns:dei='http://xbrl.sec.gov/dei/2023' "
      "xmlns:us-gaap='http://fasb.org/us-gaap/2023' xmlns:xbrldi='http://xbrl.org/2006/xbrldi'>"
      "<context id='c1'><entity><identifier scheme='http://www.sec.gov/CIK'>0000320193</identifier></entity>"
      "<period><startDate>2023-10-01</startDate><endDate>2024-09-28</endDate></period></context>"
      "<context id='c2'><entity><identifier scheme='http://www.sec.gov/CIK'>0000320193</identifier>"
      "<segment><xbrldi:explicitMember dimension='srt:ProductOrServiceAxis'>us-gaap:ProductMember"
      "</xbrldi:explicitMember></segment></entity><period><instant>2024-09-28</instant></period></context>"
      "<unit id='usd'><measure>iso4217:USD</measure></unit>"
      "<us-gaap:Revenues contextRef='c2' unitRef='usd' decimals='-6'>294866000000</us-gaap:Revenues>"
      "<us-gaap:Revenues contextRef='c1' unitRef='usd' decimals='-6'>391035000000</us-gaap:Revenues>"
      "<dei:EntityRegistrantName contextRef='c1'>Apple Inc.</dei:EntityRegistrantName>"
      "<us-gaap:PolicyTextBlock contextRef='c1'>&lt;div&gt;&lt;p&gt;Policy &amp;amp; text&lt;/p&gt;&lt;/div&gt;"
      "</us-gaap:PolicyTextBlock></xbrl>";
  auto c = xml_to_content(xml, "inst.xml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->format, Format::kXbrl);
  EXPECT_EQ(c->text,
            "us-gaap:Revenues = 391035000000 USD (decimals -6) | 2023-10-01..2024-09-28 | CIK 0000320193\n"
            "dei:EntityRegistrantName = Apple Inc. | 2023-10-01..2024-09-28 | CIK 0000320193\n"
            "us-gaap:PolicyTextBlock = Policy & text | 2023-10-01..2024-09-28 | CIK 0000320193\n"
            "us-gaap:Revenues = 294866000000 USD (decimals -6) | 2024-09-28 | CIK 0000320193 | "
            "srt:ProductOrServiceAxis=us-gaap:ProductMember");
  EXPECT_EQ(c->company, "Apple Inc.");
  EXPECT_EQ(c->cik, "0000320193");
}

TEST(XmlFormsTest, NotWellFormedXmlIsAnError) {
  auto c = xml_to_content("<a><b></a>", "bad.xml");
  EXPECT_FALSE(c.has_value());
}

}  // namespace
}  // namespace fgraph::ingest::internal
