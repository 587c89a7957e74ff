#pragma once

#include <string>
#include <utility>
#include <vector>

/* Printable documents of the back-office, drawn with Cairo (PDF surface): citations,
 * rental notices, referral copies, and the summons-service report. JPEG evidence
 * photos are embedded byte for byte (Cairo's JPEG MIME data), so the photo on paper is
 * the photo the device signed. */
namespace stopline::backoffice {

/* Image bytes as stored: JPEG, PNG or SVG (signatures). */
struct DocImage
{
    std::string bytes;
    std::string contentType; /* "image/jpeg", "image/png", "image/svg+xml" */
};

/* Everything printed on one citation or notice; strings are already formatted. */
struct CitationDoc
{
    /* "citation", "rental_notice", "agency_copy", "department_copy" */
    std::string kind = "citation";
    std::string agencyName;
    std::string number;
    std::string accessCode;
    std::string portalUrl;
    std::string issuedDate;
    std::string dueDate; /* payment / response, or the rental window's last day */
    std::string amount;  /* "$136.00" */
    std::string recipientName;
    std::vector<std::string> recipientAddress; /* lines */
    std::string violationType;                 /* "Red light", "School zone speed" */
    std::string violationTime;                 /* local, with zone */
    std::string location;                      /* "BEL-0142 NE 8th St & 112th Ave NE" */
    std::string approach;                      /* "northbound, lane 2"; no lane if 0 */
    std::string statute;                       /* "RCW 46.61.055 Failure to stop ..." */
    std::vector<std::pair<std::string, std::string>> measurements; /* "Time into red", "1.30 s" */
    std::string plate;                                             /* "ABC123 WA" */
    std::string vehicle;                                           /* "2019 Toyota Camry, silver" */
    DocImage vehiclePhoto;
    DocImage secondPhoto;
    DocImage plateCrop;
    DocImage signature;
    std::string reviewerName;
    std::string reviewedDate;
    std::string approvalHash; /* SHA-256 hex of the signed approval statement */
    std::string recordId;
    std::string recordHash;
    int rentalWindowDays = 18;
    std::string referralNote; /* copies: who it is referred to and why */
};

/* Where the images went on a page, in PDF points from the top-left corner, so a test
 * can look at exactly those regions of the rendered page. */
struct DocRect
{
    double x = 0, y = 0, w = 0, h = 0;
};
struct CitationLayout
{
    double pageWidth = 0, pageHeight = 0;
    DocRect vehiclePhoto, secondPhoto, plateCrop, signature;
};

/* One page per document, in order. Throws std::runtime_error if Cairo fails. */
std::string renderCitationsPdf(const std::vector<CitationDoc> &docs,
                               std::vector<CitationLayout> *layouts = nullptr);

/* A line of the summons-service report: an unpaid citation past its deadline. */
struct SummonsLine
{
    std::string caseId;
    std::string number;
    std::string name;
    std::string address;
    std::string phone;
    std::string plate;
    std::string violation; /* date, type, location */
    std::string dueDate;
    std::string daysOverdue;
    std::string balance;
    std::string lastContact; /* date and outcome */
};

/* The report officers take to serve summons: landscape, headers repeated per page. */
std::string renderSummonsPdf(const std::string &agencyName, const std::string &generated,
                             const std::vector<SummonsLine> &lines);

} /* namespace stopline::backoffice */
