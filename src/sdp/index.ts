// SDP offer/answer for the carrier leg: codec choice, telephone-event, our RTP address in the answer or the offer.
export { buildAnswer, negotiate, RELAYABLE_TRANSPORTS, type AudioCodec, type LocalMedia, type NegotiatedAudio, type Negotiation, type SdpRejection } from './negotiate.js';
export { buildOffer, OFFER_DTMF_PAYLOAD_TYPE, type OfferShape } from './offer.js';
