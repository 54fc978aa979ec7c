#include "ingest/internal/sgml.h"

#include <gtest/gtest.h>

namespace fgraph::ingest::internal {
namespace {

constexpr const char* kSubmission =
    "<SEC-DOCUMENT>0000000001-24-000001.txt : 20240102\n"
    "<SEC-HEADER>0000000001-24-000001.hdr.sgml : 20240102\n"
    "ACCESSION NUMBER:\t\t0000000001-24-000001\n"
    "CONFORMED SUBMISSION TYPE:\t4\n"
    "CONFORMED PERIOD OF REPORT:\t20231231\n"
    "FILED AS OF DATE:\t\t20240102\n"
    "ITEM INFORMATION:\tOther Events: with a colon\n"
    "\n"
    "REPORTING-OWNER:\n"
    "\n"
    "\tOWNER DATA:\n"
    "\t\tCOMPANY CONFORMED NAME:\t\t\tDoe Jane\n"
    "\t\tCENTRAL INDEX KEY:\t\t\t0000000002\n"
    "\n"
    "ISSUER:\n"
    "\tCOMPANY DATA:\t\n"
    "\t\tCOMPANY CONFORMED NAME:\t\t\tACME CORP\n"
    "\t\tCENTRAL INDEX KEY:\t\t\t0000000003\n"
    "\tFORMER COMPANY:\n"
    "\t\tFORMER CONFORMED NAME:\tACME INC\n"
    "</SEC-HEADER>\n"
    "<DOCUMENT>\n<TYPE>4\n<SEQUENCE>1\n<FILENAME>form4.xml\n<DESCRIPTION>PRIMARY DOCUMENT\n"
    "<TEXT>\n<XML>\n<?xml version=\"1.0\"?>\n<ownershipDocument/>\n</XML>\n</TEXT>\n</DOCUMENT>\n"
    "<DOCUMENT>\n<TYPE>GRAPHIC\n<SEQUENCE>2\n<FILENAME>logo.jpg\n<TEXT>\n"
    "begin 644 logo.jpg\nM_]C_X  02D9)1@ ! 0$ 8 !@\n\nend\n</TEXT>\n</DOCUMENT>\n"
    "</SEC-DOCUMENT>\n";

TEST(SgmlSplitterTest, ReadsHeaderFieldsAndRoleBlocks) {
  auto sub = split_submission(kSubmission);
  ASSERT_TRUE(sub.has_value()) << sub.error().message;
  EXPECT_TRUE(sub->has_header);
  EXPECT_EQ(sub->header.accession, "0000000001-24-000001");
  EXPECT_EQ(sub->header.form_type, "4");
  EXPECT_EQ(sub->header.filed_at, "2024-01-02");
  EXPECT_EQ(sub->header.period, "2023-12-31");
  ASSERT_EQ(sub->header.parties.size(), 2u);
  EXPECT_EQ(sub->header.parties[0].role, "reporting-owner");
  EXPECT_EQ(sub->header.parties[0].name, "Doe Jane");
  EXPECT_EQ(sub->header.parties[0].cik, "0000000002");
  EXPECT_EQ(sub->header.parties[1].role, "issuer");
  EXPECT_EQ(sub->header.parties[1].name, "ACME CORP");  // not the former name
}

TEST(SgmlSplitterTest, SplitsDocumentsAndUnwrapsXml) {
  auto sub = split_submission(kSubmission);
  ASSERT_TRUE(sub.has_value());
  ASSERT_EQ(sub->documents.size(), 2u);
  const auto& d = sub->documents[0];
  EXPECT_EQ(d.type, "4");
  EXPECT_EQ(d.sequence, "1");
  EXPECT_EQ(d.filename, "form4.xml");
  EXPECT_EQ(d.description, "PRIMARY DOCUMENT");
  EXPECT_EQ(d.payload.find("<XML>"), std::string::npos);
  EXPECT_EQ(d.payload.rfind("<?xml", 0), 0u);
  EXPECT_FALSE(skip_reason(d).has_value());
  auto why = skip_reason(sub->documents[1]);
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why, "uuencoded binary attachment (JPG)");
}

TEST(SgmlSplitterTest, ReadsNcFeedWithBareCarriageReturns) {
  std::string nc =
      "<SUBMISSION>\n<ACCESSION-NUMBER>0000000001-25-000009\r<TYPE>4\r<PERIOD>20250212\r"
      "<FILING-DATE>20250213\r<REPORTING-OWNER>\r<OWNER-DATA>\r<CONFORMED-NAME>Roe Richard\r"
      "<CIK>0000000005\r</OWNER-DATA>\r</REPORTING-OWNER>\r<ISSUER>\r<COMPANY-DATA>\r"
      "<CONFORMED-NAME>WIDGETS INC\r<CIK>0000000006\r</COMPANY-DATA>\r<FORMER-COMPANY>\r"
      "<FORMER-CONFORMED-NAME>OLD WIDGETS\r</FORMER-COMPANY>\r</ISSUER>\r"
      "<DOCUMENT>\r<TYPE>4\r<SEQUENCE>1\r<TEXT>\rhello\r</TEXT>\r</DOCUMENT>\r</SUBMISSION>\r";
  auto sub = split_submission(nc);
  ASSERT_TRUE(sub.has_value()) << sub.error().message;
  EXPECT_EQ(sub->header.accession, "0000000001-25-000009");
  EXPECT_EQ(sub->header.form_type, "4");  // the header's TYPE, not the document's
  EXPECT_EQ(sub->header.filed_at, "2025-02-13");
  ASSERT_EQ(sub->header.parties.size(), 2u);
  EXPECT_EQ(sub->header.parties[1].name, "WIDGETS INC");
  ASSERT_EQ(sub->documents.size(), 1u);
  EXPECT_EQ(sub->documents[0].payload, "hello\n");
}

TEST(SgmlSplitterTest, StripsPemEnvelopeAndDashEscaping) {
  std::string pem =
      "-----BEGIN PRIVACY-ENHANCED MESSAGE-----\nProc-Type: 2001,MIC-CLEAR\nMIC-Info: RSA-MD5,RSA,\n"
      " abcdef==\n\n<SEC-DOCUMENT>x\n<DOCUMENT>\n<TYPE>8-K\n<TEXT>\n- ------\nLine\n</TEXT>\n"
      "</DOCUMENT>\n-----END PRIVACY-ENHANCED MESSAGE-----\n";
  auto sub = split_submission(pem);
  ASSERT_TRUE(sub.has_value()) << sub.error().message;
  ASSERT_EQ(sub->documents.size(), 1u);
  EXPECT_EQ(sub->documents[0].payload, "------\nLine\n");
}

TEST(SgmlSplitterTest, UnclosedHeaderIsTruncated) {
  auto sub = split_submission("<SEC-DOCUMENT>x\n<SEC-HEADER>x\nACCESSION NUMBER:\t0001-");
  ASSERT_FALSE(sub.has_value());
  EXPECT_NE(sub.error().message.find("truncated"), std::string::npos);
}

TEST(SgmlSplitterTest, UnclosedDocumentIsTruncated) {
  auto sub = split_submission("<DOCUMENT>\n<TYPE>8-K\n<TEXT>\nsome text without end\n");
  ASSERT_FALSE(sub.has_value());
  EXPECT_NE(sub.error().message.find("</DOCUMENT>"), std::string::npos);
}

TEST(SgmlSplitterTest, CutOutDocumentWithoutDocumentLine) {
  auto sub = split_submission("<TYPE>EX-99.1\n<SEQUENCE>2\n<FILENAME>ex.htm\n<TEXT>\n<p>x</p>\n</TEXT>\n</DOCUMENT>\n");
  ASSERT_TRUE(sub.has_value()) << sub.error().message;
  ASSERT_EQ(sub->documents.size(), 1u);
  EXPECT_EQ(sub->documents[0].type, "EX-99.1");
  EXPECT_FALSE(sub->has_header);
}

TEST(SgmlSplitterTest, SkipsViewerArtefactsButKeepsInstance) {
  SgmlDocument r1{"XML", "5", "R1.htm", "IDEA: XBRL DOCUMENT", "<html></html>"};
  SgmlDocument inst{"XML", "12", "form8k_htm.xml", "IDEA: XBRL DOCUMENT", "<?xml?><xbrl/>"};
  SgmlDocument sch{"EX-101.SCH", "2", "x.xsd", "", "<xs:schema/>"};
  EXPECT_TRUE(skip_reason(r1).has_value());
  EXPECT_FALSE(skip_reason(inst).has_value());
  EXPECT_EQ(skip_reason(sch), "XBRL taxonomy schema (EX-101.SCH)");
}

TEST(SgmlSplitterTest, StripsAsciiMarkup) {
  EXPECT_EQ(strip_ascii_markup("<PAGE>   1\n<TABLE>\n<S>  <C>\nA  1\n</TABLE><F1> note"),
            "   1\n\n  \nA  1\n note");
  EXPECT_EQ(strip_ascii_markup("a < b and <HTML> stays"), "a < b and <HTML> stays");
}

}  // namespace
}  // namespace fgraph::ingest::internal
